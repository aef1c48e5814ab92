"""The event lake's resources: the Glue database and tables (in moto's Glue, where the local query
engine and the devstack's Firehose read the schema), the Athena workgroup (recorded: DuckDB runs the
lake's SQL locally) and the Firehose delivery streams (created in moto and described for
`devstack.firehose`, which delivers them as the template says)."""

from __future__ import annotations

from typing import Any

from devstack.firehose import DeliverySpec, parse_partition_query
from devstack.resources.base import CreatorBase


class LakeCreators(CreatorBase):
    def _glue_database(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        database = dict(props["DatabaseInput"])
        database.setdefault("Name", self.physical_name(name).lower().replace("-", "_"))
        self.client("glue").create_database(DatabaseInput=database)
        self.resolver.refs[name] = database["Name"]

    def _glue_table(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        table = dict(props["TableInput"])
        table["Parameters"] = {key: str(value) for key, value in (table.get("Parameters") or {}).items()}
        self.client("glue").create_table(DatabaseName=props["DatabaseName"], TableInput=table)
        self.resolver.refs[name] = table["Name"]

    def _athena_workgroup(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        self.resolver.refs[name] = props.get("Name") or self.physical_name(name)

    def _delivery_stream(self, name: str, properties: dict[str, Any]) -> None:
        props = self._props(properties)
        stream_name = props.get("DeliveryStreamName") or self.physical_name(name)
        kind = props.get("DeliveryStreamType", "DirectPut")
        destination = props.get("ExtendedS3DestinationConfiguration")
        if not destination:
            raise ValueError(f"{name}: the devstack delivers ExtendedS3 destinations only")
        hints = destination.get("BufferingHints") or {}
        buffer_seconds = float(hints.get("IntervalInSeconds", 300))
        buffer_bytes = int(float(hints.get("SizeInMBs", 5)) * 1024 * 1024)
        request: dict[str, Any] = {
            "DeliveryStreamName": stream_name,
            "DeliveryStreamType": kind,
            # moto keeps the destination for DescribeDeliveryStream; the delivery itself is devstack.firehose's
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": destination["BucketARN"],
                "RoleARN": destination["RoleARN"],
                "Prefix": destination.get("Prefix", ""),
                "ErrorOutputPrefix": destination.get("ErrorOutputPrefix", ""),
                "BufferingHints": {"IntervalInSeconds": int(buffer_seconds), "SizeInMBs": buffer_bytes >> 20},
                "CompressionFormat": destination.get("CompressionFormat", "UNCOMPRESSED"),
            },
        }
        source = props.get("KinesisStreamSourceConfiguration")
        if kind == "KinesisStreamAsSource" and source:
            request["KinesisStreamSourceConfiguration"] = {
                "KinesisStreamARN": source["KinesisStreamARN"],
                "RoleARN": source["RoleARN"],
            }
        arn = self.client("firehose").create_delivery_stream(**request)["DeliveryStreamARN"]
        conversion = destination.get("DataFormatConversionConfiguration") or {}
        if not conversion.get("Enabled"):
            raise ValueError(f"{name}: the devstack delivers Parquet-converted streams only (the lake's)")
        schema = conversion["SchemaConfiguration"]
        partition_keys: tuple[tuple[str, str, int | None, int | None], ...] = ()
        for processor in (destination.get("ProcessingConfiguration") or {}).get("Processors", []):
            if processor.get("Type") == "MetadataExtraction":
                parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor.get("Parameters", [])}
                partition_keys = parse_partition_query(parameters["MetadataExtractionQuery"])
        self.deployment.delivery_streams.append(
            DeliverySpec(
                logical_id=name,
                name=stream_name,
                arn=arn,
                bucket=destination["BucketARN"].split(":")[-1],
                prefix=destination.get("Prefix", ""),
                error_prefix=destination.get("ErrorOutputPrefix", ""),
                buffer_seconds=buffer_seconds,
                buffer_bytes=buffer_bytes,
                file_extension=destination.get("FileExtension", ""),
                source_stream_arn=source["KinesisStreamARN"] if source else None,
                glue_database=schema["DatabaseName"],
                glue_table=schema["TableName"],
                partition_keys=partition_keys,
            )
        )
        self.resolver.refs[name] = stream_name
        self.resolver.attrs[(name, "Arn")] = arn
