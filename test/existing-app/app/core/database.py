"""The module the seed imports its declarative base from (`from app.core.database import Base`)."""
from sqlalchemy.orm import declarative_base

Base = declarative_base()
