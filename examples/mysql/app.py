"""The tutorial's Flask + SQLAlchemy + pymysql app, talking to MySQL through the proxy.

Changes from the tutorial: SQLAlchemy 2 wants `text()` around raw SQL and string
keys in JSON objects; the database URI comes from DB_URI and the address from
HOST/PORT, so the run script can use free ports.
"""

import os

from flask import Flask
from sqlalchemy import create_engine, text

app = Flask(__name__)
db_uri = os.environ.get("DB_URI", "mysql+pymysql://haproxy_user:tester@127.0.0.1:5555")
engine = create_engine(db_uri, pool_size=1, pool_recycle=-1)
query = "select * from test.todos"


@app.route("/")
def main():
    return "Welcome!\n"


@app.route("/todos")
def list_todos():
    with engine.connect() as conn:
        db_res = conn.execute(text(query))
        res = {}
        for row in db_res:
            res[str(row[0])] = {"item": row[1], "status": row[2]}
    return res


@app.route("/sleep/<s>")
def slow_query(s):
    with engine.connect() as conn:
        conn.execute(text("SELECT SLEEP(:s)"), {"s": float(s)})
    return {"slept": s}


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8000")))
