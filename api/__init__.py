"""The ticket service: FastAPI app, lifecycle, dispatch, storage and auth."""
