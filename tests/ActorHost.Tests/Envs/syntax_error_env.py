class Actor:
    def ping(self)
        return "pong"
