"""create_pipeline's Vertex AI settings from vertex_runner.py's flags: the Trainer on Vertex AI
Training (--vertex-training) and the Pusher to a Vertex AI endpoint (--deploy-endpoint)."""

from __future__ import annotations

import argparse

from pipeline import configs


def vertex_training_config(args: argparse.Namespace) -> dict:
    from tfx import v1 as tfx

    vertex = tfx.extensions.google_cloud_ai_platform
    return {
        vertex.ENABLE_VERTEX_KEY: True,
        vertex.VERTEX_REGION_KEY: args.region,
        vertex.TRAINING_ARGS_KEY: {
            "project": args.project,
            "worker_pool_specs": [
                {
                    "machine_spec": {"machine_type": configs.VERTEX_TRAINING_MACHINE_TYPE},
                    "replica_count": 1,
                    "container_spec": {"image_uri": args.image},
                }
            ],
        },
    }


def vertex_serving_config(args: argparse.Namespace) -> dict:
    from tfx import v1 as tfx

    vertex = tfx.extensions.google_cloud_ai_platform
    return {
        vertex.ENABLE_VERTEX_KEY: True,
        vertex.VERTEX_REGION_KEY: args.region,
        vertex.VERTEX_CONTAINER_IMAGE_URI_KEY: configs.VERTEX_SERVING_IMAGE,
        vertex.SERVING_ARGS_KEY: {
            "project_id": args.project,
            "endpoint_name": configs.VERTEX_ENDPOINT_NAME,
            "machine_type": configs.VERTEX_SERVING_MACHINE_TYPE,
        },
    }
