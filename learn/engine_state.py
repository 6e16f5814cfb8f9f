"""The calling process's copy of a study's state, shared by the study engines
(``learn.study_engine.LocalEngine``, ``learn.study_engine_ray.RayEngine``)."""
from __future__ import annotations

from typing import Any, Callable


class CallerState:
    """The calling process's own copy of a study's state, for the tasks it computes itself.

    An engine sets ``initializer``, ``initargs`` and ``_local = []``; :meth:`state` builds
    ``initializer(*initargs)`` when first asked, then keeps it.
    """

    initializer: "Callable[..., Any] | None"
    initargs: tuple
    _local: list

    def state(self) -> Any:
        """This process's state: ``initializer(*initargs)``, built when first asked, then kept
        (for the tasks :meth:`run` computes here and for any the caller computes itself)."""
        if not self._local:
            self._local.append(None if self.initializer is None
                               else self.initializer(*self.initargs))
        return self._local[0]


__all__ = ["CallerState"]
