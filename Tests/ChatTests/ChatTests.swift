// ChatTests
