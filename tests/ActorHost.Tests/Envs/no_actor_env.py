class Agent:
    def ping(self):
        return "pong"
