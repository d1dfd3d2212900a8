"""Evidence storage: the content-addressed object store (local folder or S3)."""

from api.storage.objects import (
    LocalStore,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    S3Store,
    content_type_of,
    get_object_store,
    make_key,
    sha256_of,
)

__all__ = ["LocalStore", "ObjectNotFound", "ObjectStore", "ObjectStoreError", "S3Store",
           "content_type_of", "get_object_store", "make_key", "sha256_of"]
