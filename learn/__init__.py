"""learn: data sets and identity splits, networks, the alternating optimisation of the camera,
training runs and design bundles (plus attacks, evaluation and Table 1 in their own modules).

Modules (imported on demand; nothing heavy is imported here):

- ``learn.datasets``: ``load_faces``, ``load_nonfaces``, ``make_splits`` -> ``Splits``,
  ``to_tensor`` (uint8 sRGB NHWC -> float32 linear RGB NCHW), batching helpers.
- ``learn.networks``: ``make_recogniser``, ``make_detector`` (small ResNets for codes), ``entropy``.
- ``learn.alternating``: ``AlternatingSettings``, ``AlternatingTrainer`` (the paper's eq. (1)).
- ``learn.recipes``: named learning methods (``"closed_form"``, the CLI's default; ``"paper"``).
- ``learn.runs``: ``RunConfig``, ``load_run_config``, ``train`` (checkpoints, resume, metrics log).
- the design bundle it writes is ``sensor.design_bundle`` (read by optics/ and hil/ too).
- ``canopic.app.commands.train``: ``canopic train``.
"""
