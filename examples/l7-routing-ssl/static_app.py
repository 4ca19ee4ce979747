"""EP3's static content server (the tutorial's static_app.py).

Serves files from the `static` folder next to this file; HOST/PORT set the address.
"""

import os

from flask import Flask, send_from_directory

app = Flask(__name__)
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


@app.route("/static/<path:filename>")
def serve_static(filename):
    return send_from_directory(STATIC, filename)


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5001")))
