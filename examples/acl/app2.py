"""EP4's form handler (the tutorial's app2.py); HOST/PORT set the address."""

import os

from flask import Flask

app = Flask(__name__)


@app.route("/submit", methods=["POST"])
def submit_form():
    return "Form submitted successfully!"


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5004")))
