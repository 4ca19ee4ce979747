"""EP4's general app (the tutorial's app1.py); HOST/PORT set the address."""

import os

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "Welcome to the main page!"


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5003")))
