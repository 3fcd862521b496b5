// BrokerContractTests
