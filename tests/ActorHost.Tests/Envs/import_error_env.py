import module_that_does_not_exist_anywhere  # noqa: F401


class Actor:
    def ping(self):
        return "pong"
