import time

time.sleep(1.5)
raise RuntimeError("the dataset this environment needs is missing")
