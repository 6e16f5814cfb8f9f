"""sensor: the pixel array (EMVA 1288) and the whole simulated camera.

``sensor.Camera`` / ``sensor.CameraConfig`` chain optics -> pixel array -> analog into one
capture; ``sensor.PixelArray`` / ``sensor.SensorParams`` model the photodetection;
``sensor.baselines`` has the paper's Gaussian-blur and pixelation baselines;
``sensor.published`` loads the paper's published encoders.
"""
from sensor.camera import Camera, CameraConfig

try:  # the pixel array lands separately; the camera imports it lazily when a sensor is set
    from sensor.pixel import PixelArray, SensorParams
except ModuleNotFoundError:  # pragma: no cover
    pass

__all__ = ["Camera", "CameraConfig", "PixelArray", "SensorParams"]
