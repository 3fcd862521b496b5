// Placeholder entry point until its issue lands.
print("not built yet")
