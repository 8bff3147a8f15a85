/**
 * Two Node ORMs / query builders over mysql2 through ddb's MySQL port, each as its
 * users run it: knex (migrations, each wrapped in a transaction as knex does by
 * default, and its migration lock) and Sequelize (sync() of the models, then a
 * queryInterface migration). Then CRUD, a transaction that commits, one that rolls
 * back, and a unique violation. Each scenario records what it saw (a transcript);
 * on ddb the transcript must equal the one a plain mariadbd gives, and the slave
 * must equal the master.
 *
 * Needs the npm devDependencies knex and sequelize (and mysql2, a dependency).
 */
import { expect, test } from 'bun:test'
import knex, { type Knex } from 'knex'
import { DataTypes, Sequelize } from 'sequelize'
import {
  DDB_TARGETS,
  describeTarget,
  once,
  START_TIMEOUT_MS,
  startTarget,
  type Target,
  TEST_TIMEOUT_MS,
} from './support.ts'

/** What a scenario saw: one [step, result] per step. */
type Transcript = Array<[string, unknown]>

/** Runs one step; an unexpected error names the client, the step, the target and the SQL. */
async function step<T>(client: string, name: string, target: Target, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err: any) {
    const cause = err.parent ?? err.original ?? err
    const code = [cause.code, cause.errno].filter(Boolean).join(' ')
    const sql = cause.sql ?? err.sql
    throw new Error(
      `${client} ${name} on ${target.name}: ${code ? `${code}: ` : ''}${cause.message ?? err.message}${sql ? `\n  SQL: ${sql}` : ''}`,
    )
  }
}

/** The error a client surfaced for a statement the database refused, reduced to what MySQL said. */
const refusal = (err: any) => {
  const cause = err.parent ?? err.original ?? err
  return { name: err.name, code: cause.code, errno: cause.errno, sqlState: cause.sqlState }
}

const USERS = [
  { email: 'ann@example.com', name: 'Ann', age: 30 },
  { email: 'bo@example.com', name: "Bo 'the quote' O\"Neil", age: 40 },
  { email: 'cy@example.com', name: 'Cy 東京', age: null },
]

// ---------------------------------------------------------------------------
// knex

/** knex migrations, given in code (a migration directory would hold the same two files). */
const KNEX_MIGRATIONS: Record<string, { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> }> = {
  '20240101000000_create_users': {
    up: (k) =>
      k.schema.createTable('users', (t) => {
        t.increments('id')
        t.string('email', 100).notNullable().unique()
        t.string('name', 100).notNullable()
        t.integer('age')
        t.timestamps(true, true)
      }),
    down: (k) => k.schema.dropTable('users'),
  },
  '20240102000000_create_posts': {
    up: async (k) => {
      await k.schema.createTable('posts', (t) => {
        t.increments('id')
        t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE')
        t.string('title', 200).notNullable()
        t.text('body')
        t.decimal('price', 8, 2)
        t.boolean('published').notNullable().defaultTo(false)
      })
      await k.schema.alterTable('users', (t) => {
        t.text('bio')
      })
    },
    down: (k) => k.schema.dropTable('posts'),
  },
}

const knexMigrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(KNEX_MIGRATIONS),
  getMigrationName: (name) => name,
  getMigration: async (name) => KNEX_MIGRATIONS[name]!,
}

async function knexScenario(target: Target): Promise<Transcript> {
  const db = knex({
    client: 'mysql2',
    connection: { host: target.host, port: target.port, user: 'root', database: target.database },
    pool: { min: 0, max: 4 },
  })
  const run = <T>(name: string, fn: () => Promise<T>) => step('knex', name, target, fn)
  const log: Transcript = []
  try {
    const [batch, names] = await run('migrate.latest', () =>
      db.migrate.latest({ migrationSource: knexMigrationSource }),
    )
    log.push(['migrate.latest', { batch, names }])

    const ids: number[] = []
    for (const user of USERS) ids.push(...(await run('insert', () => db('users').insert(user))))
    log.push(['insert ids', ids])
    log.push(['update', await run('update', () => db('users').where({ email: 'bo@example.com' }).update({ age: 41 }))])
    log.push(['delete', await run('delete', () => db('users').where({ email: 'cy@example.com' }).del())])

    await run('transaction (commit)', () =>
      db.transaction(async (trx) => {
        const [id] = await trx('users').insert({ email: 'dee@example.com', name: 'Dee', age: 25 })
        await trx('posts').insert([
          { user_id: id, title: 'First', body: 'Hello\nworld', price: '9.99', published: true },
          { user_id: id, title: "It's 'quoted'", body: null, price: '0.50' },
        ])
      }),
    )
    const rolledBack = await run('transaction (rollback)', () =>
      db
        .transaction(async (trx) => {
          await trx('users').insert({ email: 'ghost@example.com', name: 'Ghost' })
          throw new Error('roll back on purpose')
        })
        .catch((err: Error) => err.message),
    )
    log.push(['transaction rolled back', rolledBack])
    log.push([
      'ghost rows',
      await run('count', () => db('users').where({ email: 'ghost@example.com' }).count('* as n')),
    ])

    const duplicate = await run('unique violation', () =>
      db('users')
        .insert({ email: 'ann@example.com', name: 'Ann again' })
        .then(() => 'no error', refusal),
    )
    log.push(['unique violation', duplicate])

    log.push([
      'query',
      await run('select join', () =>
        db('users')
          .leftJoin('posts', 'posts.user_id', 'users.id')
          .select('users.id', 'users.email', 'users.name', 'users.age', 'posts.title', 'posts.price', 'posts.published')
          .orderBy(['users.id', 'posts.id']),
      ),
    ])
    const [again] = await run('migrate.latest (nothing to do)', () =>
      db.migrate.latest({ migrationSource: knexMigrationSource }),
    )
    log.push(['migrate.latest again: batch', again])
    log.push(['migrations', await run('select migrations', () => db('knex_migrations').select('name', 'batch'))])
  } finally {
    await db.destroy()
  }
  return log
}

// ---------------------------------------------------------------------------
// Sequelize

async function sequelizeScenario(target: Target): Promise<Transcript> {
  const sequelize = new Sequelize(target.database, 'root', '', {
    host: target.host,
    port: target.port,
    dialect: 'mysql',
    logging: false,
    pool: { max: 4, min: 0 },
  })
  const run = <T>(name: string, fn: () => Promise<T>) => step('Sequelize', name, target, fn)
  const log: Transcript = []
  try {
    // Its own table names: knex's users and posts are in the same database, and a SQLite store's
    // table names ignore case, as MySQL's do on Windows and macOS (Sequelize's default would be Users, Posts).
    const User = sequelize.define('Author', {
      email: { type: DataTypes.STRING(100), allowNull: false, unique: true },
      name: { type: DataTypes.STRING(100), allowNull: false },
      age: { type: DataTypes.INTEGER },
    })
    const Post = sequelize.define('Article', {
      title: { type: DataTypes.STRING(200), allowNull: false },
      body: { type: DataTypes.TEXT },
      price: { type: DataTypes.DECIMAL(8, 2) },
      published: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    })
    User.hasMany(Post, { foreignKey: { name: 'authorId', allowNull: false }, onDelete: 'CASCADE' })
    Post.belongsTo(User, { foreignKey: 'authorId' })

    await run('authenticate', () => sequelize.authenticate())
    await run('sync', () => sequelize.sync())
    // A migration as sequelize-cli runs one: queryInterface calls, no transaction.
    const qi = sequelize.getQueryInterface()
    await run('queryInterface.addColumn', () => qi.addColumn('Authors', 'bio', { type: DataTypes.TEXT }))
    await run('queryInterface.addIndex', () => qi.addIndex('Articles', ['title'], { name: 'articles_title' }))
    log.push(['columns of Authors', Object.keys(await run('describeTable', () => qi.describeTable('Authors'))).sort()])

    const ids: number[] = []
    for (const user of USERS) ids.push((await run('create', () => User.create(user))).get('id') as number)
    log.push(['create ids', ids])
    log.push(['update', await run('update', () => User.update({ age: 41 }, { where: { email: 'bo@example.com' } }))])
    log.push(['destroy', await run('destroy', () => User.destroy({ where: { email: 'cy@example.com' } }))])

    await run('transaction (commit)', () =>
      sequelize.transaction(async (transaction) => {
        const dee = await User.create({ email: 'dee@example.com', name: 'Dee', age: 25 }, { transaction })
        await Post.bulkCreate(
          [
            { authorId: dee.get('id'), title: 'First', body: 'Hello\nworld', price: '9.99', published: true },
            { authorId: dee.get('id'), title: "It's 'quoted'", body: null, price: '0.50' },
          ],
          { transaction },
        )
      }),
    )
    const rolledBack = await run('transaction (rollback)', () =>
      sequelize
        .transaction(async (transaction) => {
          await User.create({ email: 'ghost@example.com', name: 'Ghost' }, { transaction })
          throw new Error('roll back on purpose')
        })
        .catch((err: Error) => err.message),
    )
    log.push(['transaction rolled back', rolledBack])
    log.push(['ghost rows', await run('count', () => User.count({ where: { email: 'ghost@example.com' } }))])

    const duplicate = await run('unique violation', () =>
      User.create({ email: 'ann@example.com', name: 'Ann again' }).then(() => 'no error', refusal),
    )
    log.push(['unique violation', duplicate])

    const users = await run('findAll', () =>
      User.findAll({
        include: [{ model: Post }],
        order: [
          ['id', 'ASC'],
          [Post, 'id', 'ASC'],
        ],
      }),
    )
    log.push([
      'query',
      users.map((u: any) => ({
        id: u.id,
        email: u.email,
        name: u.name,
        age: u.age,
        posts: u.Articles.map((p: any) => ({ title: p.title, body: p.body, price: p.price, published: p.published })),
      })),
    ])
  } finally {
    await sequelize.close()
  }
  return log
}

// ---------------------------------------------------------------------------

const SCENARIOS = { knex: knexScenario, Sequelize: sequelizeScenario } as const

/** Each scenario's transcript on a plain mariadbd: what ddb must reproduce. */
const reference = once(async () => {
  await using plain = await startTarget('mariadb')
  const transcripts: Record<string, Transcript> = {}
  for (const [name, scenario] of Object.entries(SCENARIOS)) transcripts[name] = await scenario(plain)
  return transcripts
})

test(
  'reference: each scenario runs to the end on a plain mariadbd',
  async () => {
    const transcripts = await reference()
    for (const t of Object.values(transcripts)) expect(t.length).toBeGreaterThan(5)
  },
  START_TIMEOUT_MS,
)

for (const kind of DDB_TARGETS) {
  describeTarget(kind, 'Node ORMs', (target) => {
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      test(
        `${name}: migrations, CRUD, commit, rollback, a unique violation, as on MySQL; the slave equals the master`,
        async () => {
          const t = target()
          const want = (await reference())[name]
          const got = await scenario(t)
          expect(got, `${name} on ${t.name}`).toEqual(want!)
          await t.expectReplicated()
        },
        TEST_TIMEOUT_MS,
      )
    }
  })
}
