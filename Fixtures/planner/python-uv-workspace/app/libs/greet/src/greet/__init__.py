def greeting(who):
    return f"hello from {who} via the greet workspace library"
