"""How an agent installs an app and runs one test on a device."""
