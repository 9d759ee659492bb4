import sys

from flask import Flask
from greet import greeting

app = Flask(__name__)


@app.get("/")
def index():
    return f"{greeting('web')} on python {sys.version.split()[0]}"
