"""The edge people touch: the ``forecast`` command line and the local Prefect server runner."""
