# The container every Vertex AI pipeline step and every Dataflow worker runs:
# the official TFX 1.21 image plus this project's code and its backbone weights.
#   make image IMAGE=us-docker.pkg.dev/PROJECT/tastebud/pipeline:0.1.0
FROM gcr.io/tfx-oss-public/tfx:1.21.0

WORKDIR /tastebud
COPY requirements-image.txt ./
RUN pip install --no-cache-dir -r requirements-image.txt

# The whole repository but what .dockerignore leaves out (tests, benchmarks, outputs,
# caches): every module ships, with no list of files to go stale.
COPY . ./

ENV PYTHONPATH=/tastebud \
    TF_USE_LEGACY_KERAS=1 \
    TASTEBUD_WEIGHTS_CACHE=/opt/tastebud/weights

# Bake the EfficientNet-Lite0 ImageNet weights, converted to Keras, into the image, so no
# worker downloads or converts anything at run time. (Inception-v3's weights file is read
# from the bucket: pass --backbone-weights gs://BUCKET/inception_v3_..._notop.h5.)
RUN python -c "from preprocessing.efficientnet_lite import load_imagenet_model; load_imagenet_model()"

# Dataflow starts workers through Beam's boot program; Vertex AI steps set their own command.
ENTRYPOINT ["/opt/apache/beam/boot"]
