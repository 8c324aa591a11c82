import os


class Actor:
    def __init__(self):
        raise RuntimeError("CHUTES_API_KEY is not set")

    def ping(self):
        return "pong"
