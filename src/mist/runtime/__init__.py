"""The container engine behind one small interface. Requests are plain values (see requests.py)
so the pipeline can be read, and tested, as the list of things it asks the engine to do."""
