import time

time.sleep(30)


class Actor:
    def ping(self):
        return "pong"
