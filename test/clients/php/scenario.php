<?php
// PHP's MySQL clients against one server; prints what they saw as JSON.
//
//     php scenario.php HOST PORT DATABASE MODE     MODE: mysqli | mysqli-protocol | pdo-emulated | pdo-native
//
// mysqli: prepared statements (bind_param, send_long_data, get_result). mysqli-protocol:
// multi_query, a read-only cursor (mysqlnd fetches it row by row by COM_STMT_FETCH), stmt reset,
// store_result, change_user, a failing prepare and ping. PDO: prepared
// statements with PDO's default emulated prepares, or with ATTR_EMULATE_PREPARES off
// (server-side prepares). Each mode writes a table of its own, t_<mode>, with ints,
// decimals, dates, quoted strings, NULL and a BLOB, then reads it back. On an
// unexpected error it prints `ERROR in step <name>: <code> <message>` on stderr and
// exits 1. Needs the Debian packages php-cli and php-mysql.

[, $host, $port, $database, $mode] = $argv;
$table = 't_' . str_replace('-', '_', $mode);
$step = 'connect';
$out = [];

// Rows of every type: [id, big, small, dec, dbl, day, moment, text, maybe, data].
$rows = [
    [1, 9007199254740993, -42, '12345678.1234', 3.25, '2024-02-29', '2024-02-29 23:59:58',
        "it's \"quoted\" \\ back\nslash", null, implode('', array_map('chr', range(0, 255)))],
    [2, 0, 0, '-0.0001', -1.5e10, '1970-01-01', '1999-12-31 00:00:00', 'Zoë 東京 🚀', 'x', ''],
    [3, PHP_INT_MAX, -2147483648, '0.0000', 0.0, null, null, '', null, null],
];

/** A fetched value as JSON carries it: its PHP type and value (the BLOB as hex). */
function plain(string $column, $v): array {
    if ($column === 'data' && is_string($v)) return ['string', bin2hex($v)];
    return [gettype($v), $v];
}

function plainRows(array $fetched): array {
    return array_map(fn ($row) => array_map(null, array_keys($row), array_map('plain', array_keys($row), $row)), $fetched);
}

$create = "CREATE TABLE $table (id INT PRIMARY KEY, big BIGINT, small INT, dec_col DECIMAL(12,4), dbl DOUBLE,
    day DATE, moment DATETIME, text_col VARCHAR(200), maybe VARCHAR(10), data BLOB)";
$insert = "INSERT INTO $table (id, big, small, dec_col, dbl, day, moment, text_col, maybe, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
$select = "SELECT id, big, small, dec_col, dbl, day, moment, text_col, maybe, data FROM $table WHERE id >= ? AND text_col <> ? ORDER BY id";

try {
    if ($mode === 'mysqli') {
        mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
        $db = new mysqli($host, 'root', '', $database, (int) $port);
        $db->set_charset('utf8mb4');
        $step = 'CREATE TABLE';
        $db->query($create);
        $step = 'prepared INSERT';
        $stmt = $db->prepare($insert);
        foreach ($rows as $r) {
            [$id, $big, $small, $dec, $dbl, $day, $moment, $text, $maybe, $data] = $r;
            $stmt->bind_param('iiisdsssss', $id, $big, $small, $dec, $dbl, $day, $moment, $text, $maybe, $data);
            $stmt->execute();
            $out[] = ['insert', $id, $stmt->affected_rows];
        }
        $stmt->close();
        $step = 'prepared INSERT with send_long_data';
        $stmt = $db->prepare("INSERT INTO $table (id, text_col, data) VALUES (?, ?, ?)");
        $id = 4;
        $text = 'long data';
        $none = null;
        $stmt->bind_param('isb', $id, $text, $none);
        $stmt->send_long_data(2, substr($rows[0][9], 0, 128));
        $stmt->send_long_data(2, substr($rows[0][9], 128));
        $stmt->execute();
        $out[] = ['insert long data', $stmt->affected_rows];
        $stmt->close();
        $step = 'prepared UPDATE';
        $stmt = $db->prepare("UPDATE $table SET maybe = ?, dec_col = dec_col + ? WHERE id = ?");
        $maybe = null;
        $delta = '0.5000';
        $id = 2;
        $stmt->bind_param('ssi', $maybe, $delta, $id);
        $stmt->execute();
        $out[] = ['update', $stmt->affected_rows];
        $stmt->close();
        $step = 'duplicate key';
        try {
            $stmt = $db->prepare($insert);
            [$id, $big, $small, $dec, $dbl, $day, $moment, $text, $maybe, $data] = $rows[0];
            $stmt->bind_param('iiisdsssss', $id, $big, $small, $dec, $dbl, $day, $moment, $text, $maybe, $data);
            $stmt->execute();
            $out[] = ['duplicate key', 'no error'];
        } catch (mysqli_sql_exception $e) {
            $out[] = ['duplicate key', $e->getCode(), $e->getSqlState()];
        }
        $step = 'prepared SELECT';
        $stmt = $db->prepare($select);
        $from = 1;
        $not = "no such 'text'";
        $stmt->bind_param('is', $from, $not);
        $stmt->execute();
        $out[] = ['select', plainRows($stmt->get_result()->fetch_all(MYSQLI_ASSOC))];
        $stmt->close();
        $db->close();
    } elseif ($mode === 'mysqli-protocol') {
        mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
        $db = new mysqli($host, 'root', '', $database, (int) $port);
        $db->set_charset('utf8mb4');
        $step = 'multi_query';
        $db->multi_query("CREATE TABLE $table (id INT PRIMARY KEY, name VARCHAR(20));
            INSERT INTO $table VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e');
            SELECT COUNT(*) AS n FROM $table");
        $results = [];
        do {
            $r = $db->store_result();
            $results[] = $r ? $r->fetch_all(MYSQLI_ASSOC) : $db->affected_rows;
        } while ($db->more_results() && $db->next_result());
        $out[] = ['multi_query', $results];
        $step = 'cursor (COM_STMT_FETCH)';
        $stmt = $db->stmt_init();
        $stmt->prepare("SELECT id, name FROM $table WHERE id > ? ORDER BY id");
        $stmt->attr_set(MYSQLI_STMT_ATTR_CURSOR_TYPE, MYSQLI_CURSOR_TYPE_READ_ONLY);
        $out[] = ['metadata', array_map(fn ($f) => $f->name, $stmt->result_metadata()->fetch_fields())];
        $from = 1;
        $stmt->bind_param('i', $from);
        $stmt->execute();
        $stmt->bind_result($id, $name);
        $fetched = [];
        while ($stmt->fetch()) $fetched[] = [$id, $name];
        $out[] = ['cursor', $fetched];
        $step = 'stmt reset, then execute again';
        $stmt->reset();
        $from = 3;
        $stmt->execute();
        $fetched = [];
        while ($stmt->fetch()) $fetched[] = [$id, $name];
        $out[] = ['after reset', $fetched];
        $stmt->close();
        $step = 'store_result';
        $stmt = $db->prepare("SELECT name FROM $table ORDER BY id DESC");
        $stmt->execute();
        $stmt->store_result();
        $out[] = ['num_rows', $stmt->num_rows];
        $stmt->close();
        $step = 'change_user';
        $db->query('SET @marker = 42');
        $db->change_user('root', '', $database);
        $out[] = ['after change_user', $db->query('SELECT @marker AS marker, DATABASE() AS db')->fetch_all(MYSQLI_ASSOC)];
        $step = 'prepared error';
        try {
            $db->prepare("SELECT nope FROM $table");
            $out[] = ['prepared error', 'no error'];
        } catch (mysqli_sql_exception $e) {
            $out[] = ['prepared error', $e->getCode(), $e->getSqlState()];
        }
        $step = 'ping';
        $out[] = ['ping', $db->ping()];
        $db->close();
    } else {
        $emulate = $mode === 'pdo-emulated';
        $db = new PDO("mysql:host=$host;port=$port;dbname=$database;charset=utf8mb4", 'root', '', [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_EMULATE_PREPARES => $emulate,
        ]);
        $step = 'CREATE TABLE';
        $db->exec($create);
        $step = 'prepared INSERT';
        $stmt = $db->prepare($insert);
        foreach ($rows as $r) {
            $types = [PDO::PARAM_INT, PDO::PARAM_INT, PDO::PARAM_INT, PDO::PARAM_STR, PDO::PARAM_STR, PDO::PARAM_STR,
                PDO::PARAM_STR, PDO::PARAM_STR, PDO::PARAM_STR, PDO::PARAM_LOB];
            foreach ($r as $i => $v) $stmt->bindValue($i + 1, $v, $v === null ? PDO::PARAM_NULL : $types[$i]);
            $stmt->execute();
            $out[] = ['insert', $r[0], $stmt->rowCount(), $db->lastInsertId()];
        }
        $step = 'prepared UPDATE (execute with an array)';
        $stmt = $db->prepare("UPDATE $table SET maybe = ?, dec_col = dec_col + ? WHERE id = ?");
        $stmt->execute([null, '0.5000', 2]);
        $out[] = ['update', $stmt->rowCount()];
        $step = 'named parameters';
        $stmt = $db->prepare("SELECT COUNT(*) AS n FROM $table WHERE text_col = :t OR id = :id");
        $stmt->execute([':t' => "it's \"quoted\" \\ back\nslash", ':id' => 3]);
        $out[] = ['named', $stmt->fetchAll(PDO::FETCH_ASSOC)];
        $step = 'duplicate key';
        try {
            $db->prepare($insert)->execute($rows[1]);
            $out[] = ['duplicate key', 'no error'];
        } catch (PDOException $e) {
            $out[] = ['duplicate key', $e->getCode(), $e->errorInfo[1] ?? null];
        }
        $step = 'transaction rolled back';
        $db->beginTransaction();
        $db->prepare("DELETE FROM $table WHERE id = ?")->execute([1]);
        $db->rollBack();
        $step = 'prepared SELECT';
        $stmt = $db->prepare($select);
        $stmt->bindValue(1, 1, PDO::PARAM_INT);
        $stmt->bindValue(2, "no such 'text'");
        $stmt->execute();
        $out[] = ['select', plainRows($stmt->fetchAll(PDO::FETCH_ASSOC))];
    }
} catch (Throwable $e) {
    fwrite(STDERR, "ERROR in step $step: " . get_class($e) . ' ' . $e->getCode() . ' ' . $e->getMessage() . "\n");
    exit(1);
}
echo json_encode($out, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR), "\n";
