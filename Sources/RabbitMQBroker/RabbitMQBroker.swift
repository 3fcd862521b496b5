// The RabbitMQBroker target; its issue brings the code.
