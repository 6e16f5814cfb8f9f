"""sensor: the pixel array (EMVA 1288) and the whole simulated camera.

``sensor.Camera`` / ``sensor.CameraConfig`` chain optics -> pixel array -> analog into one
capture; ``sensor.PixelArray`` / ``sensor.SensorParams`` model the photodetection;
``sensor.baselines`` has the paper's Gaussian-blur and pixelation baselines;
``sensor.load_published_camera`` loads the paper's published encoders; ``sensor.design_bundle`` reads and
writes learned designs. Names are imported on first use, so ``import sensor`` is cheap.
"""
from canopic.core.lazy import lazy_exports

# Camera comes through sensor.published, which attaches the deprecated Camera.from_published.
_EXPORTS = {"Camera": "sensor.published", "CameraConfig": "sensor.camera",
            "load_published_camera": "sensor.published",
            "PixelArray": "sensor.pixel", "SensorParams": "sensor.pixel"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
