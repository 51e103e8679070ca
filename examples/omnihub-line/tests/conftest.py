pytest_plugins = ["hub.testing"]  # the Omnihub connector conformance kit
