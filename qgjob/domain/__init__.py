"""The pure core: job states, values users type, and decisions about attempts. No I/O."""
