"""placeholder"""
import click


@click.group(name="node")
def group() -> None:
    """x"""
