// The InMemoryBroker target; its issue brings the code.
