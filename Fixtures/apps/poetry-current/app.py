import sys
from importlib.metadata import version

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return f"flask {version('flask')} on python {sys.version.split()[0]}"
