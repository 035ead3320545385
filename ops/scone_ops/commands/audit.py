"""placeholder"""
import click


@click.group(name="audit")
def group() -> None:
    """x"""
