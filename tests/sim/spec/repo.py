"""Where the controller fetches the image lists, restated from its source.

Source: /work/shared/reference/harvester-image-cleanup.md ("What the controller does",
item 2), Harvester ``pkg/controller/master/upgrade/upgrade_repo.go``
(``getImagesDiffList`` builds both URLs from the upgrade repo's Service)::

    http://upgrade-repo-<upgrade-name>.harvester-system/harvester-iso/bundle/harvester/images-lists-archive/<version>/image_list_all.txt

``<version>`` is the previous version (``v1.4.1``) or the literal ``current``.  Only
the URL *path* is restated here: the host and port are the world's (a Service name or
an IP literal, the simulation's port), the path is the repo VM's ISO layout, and a
cleanup that asks any other path gets the repo's 404.  The same section gives each
fetch's time limit (:data:`CLIENT_TIMEOUT`).
"""

from __future__ import annotations

__all__ = ["CLIENT_TIMEOUT", "CURRENT", "list_path", "list_paths"]

#: the controller's ``http.Client`` timeout in seconds, over each list fetch as a whole
#: (Go's ``Client.Timeout``: lookup, connect, headers and body): the reference's "Each
#: HTTP attempt has a 30 s client timeout" (harvester-image-cleanup.md, "The retry
#: policy"); the figure a client built with no timeout must hold
CLIENT_TIMEOUT = 30.0

#: the version name of the list of the version being upgraded to
CURRENT = "current"

_PREFIX = "/harvester-iso/bundle/harvester/images-lists-archive/"
_FILE = "image_list_all.txt"


def list_path(version: str) -> str:
    """The URL path of ``version``'s image list: ``/harvester-iso/bundle/harvester/
    images-lists-archive/<version>/image_list_all.txt``."""
    return f"{_PREFIX}{version}/{_FILE}"


def list_paths(previous_version: str) -> dict[str, str]:
    """``{path: version}`` of the two lists one cleanup fetches: the previous version's
    and ``current``'s."""
    return {list_path(previous_version): previous_version, list_path(CURRENT): CURRENT}
