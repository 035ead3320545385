"""placeholder"""
import click


@click.group(name="backup")
def group() -> None:
    """x"""
