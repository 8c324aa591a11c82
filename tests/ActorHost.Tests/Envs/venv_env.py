import venv_only_package


class Actor:
    def where(self):
        return venv_only_package.MARKER
