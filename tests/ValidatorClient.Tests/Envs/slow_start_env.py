import time

time.sleep(1.5)


class Actor:
    def ping(self):
        return "pong"
