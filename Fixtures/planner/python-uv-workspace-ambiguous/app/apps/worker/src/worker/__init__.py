from greet import greeting


def main():
    print(greeting("worker"))
