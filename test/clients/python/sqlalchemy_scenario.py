"""SQLAlchemy (ORM) over PyMySQL against one MySQL URL; prints what it saw as JSON.

    /usr/bin/python3 sqlalchemy_scenario.py mysql+pymysql://root@127.0.0.1:3307/app?charset=utf8mb4

Creates the tables with metadata.create_all, inserts, updates and deletes through the
ORM, rolls a transaction back, hits a unique violation, and queries. On an unexpected
error it prints `ERROR in step <name>: <exception>` on stderr and exits 1. Needs the
Debian packages python3-sqlalchemy and python3-pymysql.
"""
import datetime
import decimal
import json
import sys
import traceback

from sqlalchemy import (Boolean, Column, Date, ForeignKey, Integer, LargeBinary, Numeric, String, Text,
                        create_engine, func, inspect, select)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, declarative_base, relationship

Base = declarative_base()


class Author(Base):
    __tablename__ = "authors"
    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(100), nullable=False, unique=True)
    born = Column(Date)
    bio = Column(Text)
    books = relationship("Book", back_populates="author", cascade="all, delete-orphan", order_by="Book.id")


class Book(Base):
    __tablename__ = "books"
    id = Column(Integer, primary_key=True, autoincrement=True)
    author_id = Column(Integer, ForeignKey("authors.id"), nullable=False)
    title = Column(String(200), nullable=False)
    price = Column(Numeric(8, 2))
    cover = Column(LargeBinary)
    in_print = Column(Boolean, nullable=False, default=True)
    author = relationship("Author", back_populates="books")


def plain(value):
    """A value as JSON can carry it, with its Python type where that matters."""
    if isinstance(value, (bytes, bytearray)):
        return "x'" + bytes(value).hex() + "'"
    if isinstance(value, decimal.Decimal):
        return "Decimal(" + str(value) + ")"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


transcript = []
current = "connect"


def step(name):
    global current
    current = name


def main(url):
    engine = create_engine(url, future=True)

    step("metadata.create_all")
    Base.metadata.create_all(engine)
    transcript.append(["tables", sorted(inspect(engine).get_table_names())])

    step("ORM inserts")
    with Session(engine) as session:
        ann = Author(name="Ann O'Neil", born=datetime.date(1980, 2, 29), bio='says "hi"\nback\\slash')
        ann.books = [
            Book(title="Zoë's 東京 🚀", price=decimal.Decimal("12.50"), cover=bytes(range(256))),
            Book(title="Second", price=decimal.Decimal("0.99"), cover=b"", in_print=False),
        ]
        bo = Author(name="Bo", born=None, bio=None)
        bo.books = [Book(title="Bo's only", price=None, cover=None)]
        session.add_all([ann, bo])
        session.commit()
        transcript.append(["inserted ids", [ann.id, bo.id] + [b.id for b in ann.books + bo.books]])

    step("ORM updates")
    with Session(engine) as session:
        ann = session.execute(select(Author).where(Author.name == "Ann O'Neil")).scalar_one()
        ann.bio = "updated"
        ann.books[1].price = decimal.Decimal("1.25")
        session.commit()

    step("ORM delete")
    with Session(engine) as session:
        bo = session.execute(select(Author).where(Author.name == "Bo")).scalar_one()
        session.delete(bo)  # and, by the cascade, Bo's book
        session.commit()

    step("transaction rolled back")
    with Session(engine) as session:
        session.add(Author(name="Ghost", books=[Book(title="Never")]))
        session.flush()
        session.rollback()
        transcript.append(["ghosts after rollback", session.execute(
            select(func.count()).select_from(Author).where(Author.name == "Ghost")).scalar_one()])

    step("unique violation")
    with Session(engine) as session:
        session.add(Author(name="Ann O'Neil"))
        try:
            session.commit()
            transcript.append(["unique violation", "no error"])
        except IntegrityError as err:
            session.rollback()
            transcript.append(["unique violation", [type(err.orig).__name__, err.orig.args[0]]])

    step("query")
    with Session(engine) as session:
        rows = session.execute(
            select(Author.id, Author.name, Author.born, Author.bio, Book.id, Book.title, Book.price, Book.cover,
                   Book.in_print)
            .join(Book, Book.author_id == Author.id, isouter=True)
            .order_by(Author.id, Book.id)
        ).all()
        transcript.append(["query", [[plain(v) for v in row] for row in rows]])

    print(json.dumps(transcript, ensure_ascii=False))


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as err:  # noqa: BLE001 - report any failure as one line, then the traceback
        print(f"ERROR in step {current}: {type(err).__name__}: {err}", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
