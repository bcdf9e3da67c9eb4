"""The pages people see in a browser (server-rendered HTML, no script unless hashed), and their assets."""
