"""The tutorial's app1.py, app2.py and app3.py in one file.

From HAProxy EP 9: Load Balancing with Weighted Round Robin.

The three differ only in their number and port, so APP_NUMBER picks the number and
HOST/PORT the address (default 127.0.0.1:500N, as in the tutorial).
"""

import os

from flask import Flask

N = int(os.environ.get("APP_NUMBER", "1"))
app = Flask(__name__)


@app.route("/")
def home():
    return f"Hello from Flask App {N}!"


@app.route("/data")
def data():
    return f"Data from Flask App {N}!"


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", f"500{N}")))
