"""EP3's dynamic content server (the tutorial's dynamic_app.py); HOST/PORT set the address."""

import os

from flask import Flask

app = Flask(__name__)


@app.route("/")
def home():
    return "Welcome to FitGuru!"


@app.route("/api/data")
def api_data():
    return {"data": "Some dynamic data"}


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5002")))
