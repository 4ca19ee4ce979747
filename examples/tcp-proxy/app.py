"""EP2's Flask app, served over a TCP proxy (the tutorial's app.py).

Only change from the tutorial: the address comes from HOST/PORT so the run
script can start several instances on free loopback ports.
"""

import os

from flask import Flask

app = Flask(__name__)


@app.route("/", methods=["GET"])
def home():
    return "Hello from Flask over TCP!"


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5000")))
