import { describe, expect, test } from 'bun:test'
import { DdbError } from '../errors.ts'
import { tokenize } from './lexer.ts'

/** Renders tokens as `type:value`, the shape the tables below use. */
function lex(sql: string): string[] {
  return tokenize(sql).map((t) => `${t.type}:${t.value}`)
}

describe('tokenize: strings', () => {
  test.each<[string, string[]]>([
    ["'abc'", ['string:abc']],
    ["''", ['string:']],
    ["'it''s'", ["string:it's"]],
    ["'it\\'s'", ["string:it's"]],
    ['"a\\"b"', ['string:a"b']],
    ['"say ""hi"""', ['string:say "hi"']],
    ['"it\'s"', ["string:it's"]],
    ["'a\"b'", ['string:a"b']],
    ["'a\\nb'", ['string:a\nb']],
    ["'a\\tb'", ['string:a\tb']],
    ["'a\\rb'", ['string:a\rb']],
    ["'a\\0b'", ['string:a\0b']],
    ["'a\\bb'", ['string:a\bb']],
    ["'a\\Zb'", ['string:a\x1ab']],
    ["'\\\\'", ['string:\\']],
    ["'\\%\\_'", ['string:\\%\\_']],
    ["'\\q'", ['string:q']],
    ["'multi\nline'", ['string:multi\nline']],
    ["'-- not a comment'", ['string:-- not a comment']],
    ["'/* not a comment */'", ['string:/* not a comment */']],
    ["'# not a comment'", ['string:# not a comment']],
    ["'a;b'", ['string:a;b']],
    ["'`'", ['string:`']],
    ["'ünïcødé'", ['string:ünïcødé']],
    ["'a' 'b'", ['string:a', 'string:b']],
    ["X'4D7953'", ['string:4D7953']],
    ["x'4d'", ['string:4d']],
    ["B'101'", ['string:101']],
    ["b'0'", ['string:0']],
    ["N'abc'", ['string:abc']],
    ["_utf8mb4'abc'", ['word:_UTF8MB4', 'string:abc']],
  ])('%j', (sql, expected) => {
    expect(lex(sql)).toEqual(expected)
  })
})

describe('tokenize: identifiers and words', () => {
  test.each<[string, string[]]>([
    ['`t`', ['identifier:t']],
    ['`a``b`', ['identifier:a`b']],
    ['`select`', ['identifier:select']],
    ['`a b`', ['identifier:a b']],
    ["`a'b`", ["identifier:a'b"]],
    ['`a\\`', ['identifier:a\\']],
    ['[my table]', ['identifier:my table']],
    ['select', ['word:SELECT']],
    ['SeLeCt', ['word:SELECT']],
    ['_x1', ['word:_X1']],
    ['$x', ['word:$X']],
    ['a$b', ['word:A$B']],
    ['ümlaut', ['word:ÜMLAUT']],
    ['1abc', ['word:1ABC']],
    ['1e', ['word:1E']],
    ['0xZZ', ['word:0XZZ']],
    ['t.col', ['word:T', 'punct:.', 'word:COL']],
    ['`db`.`t`', ['identifier:db', 'punct:.', 'identifier:t']],
    ['a  b\tc\nd\r\ne', ['word:A', 'word:B', 'word:C', 'word:D', 'word:E']],
  ])('%j', (sql, expected) => {
    expect(lex(sql)).toEqual(expected)
  })
})

describe('tokenize: numbers', () => {
  test.each<[string, string[]]>([
    ['42', ['number:42']],
    ['3.14', ['number:3.14']],
    ['.5', ['number:.5']],
    ['1.', ['number:1.']],
    ['1e10', ['number:1e10']],
    ['1.5E-3', ['number:1.5E-3']],
    ['2e+5', ['number:2e+5']],
    ['0x1F', ['number:0x1F']],
    ['0b101', ['number:0b101']],
    ['-5', ['punct:-', 'number:5']],
    ['1+2', ['number:1', 'punct:+', 'number:2']],
    ['1--1', ['number:1', 'punct:-', 'punct:-', 'number:1']],
    ['f(1,2)', ['word:F', 'punct:(', 'number:1', 'punct:,', 'number:2', 'punct:)']],
  ])('%j', (sql, expected) => {
    expect(lex(sql)).toEqual(expected)
  })
})

describe('tokenize: variables and parameters', () => {
  test.each<[string, string[]]>([
    ['@x', ['variable:@x']],
    ['@@version', ['variable:@@version']],
    ['@@global.max_connections', ['variable:@@global.max_connections']],
    ['@@SESSION.sql_mode', ['variable:@@SESSION.sql_mode']],
    ['@a.b', ['variable:@a.b']],
    ["@'my var'", ["variable:@'my var'"]],
    ['@`v`', ['variable:@`v`']],
    ['@"v"', ['variable:@"v"']],
    ['@x:=1', ['variable:@x', 'punct::=', 'number:1']],
    ["'bob'@'localhost'", ['string:bob', "variable:@'localhost'"]],
    ['@', ['punct:@']],
    ['@ x', ['punct:@', 'word:X']],
    ['?', ['param:?']],
    ['(?, ?)', ['punct:(', 'param:?', 'punct:,', 'param:?', 'punct:)']],
    ['a=?', ['word:A', 'punct:=', 'param:?']],
  ])('%j', (sql, expected) => {
    expect(lex(sql)).toEqual(expected)
  })
})

describe('tokenize: punctuation', () => {
  test.each<[string, string[]]>([
    ['a<=b', ['word:A', 'punct:<=', 'word:B']],
    ['a>=b', ['word:A', 'punct:>=', 'word:B']],
    ['a<>b', ['word:A', 'punct:<>', 'word:B']],
    ['a!=b', ['word:A', 'punct:!=', 'word:B']],
    ['a:=b', ['word:A', 'punct::=', 'word:B']],
    ['a||b', ['word:A', 'punct:||', 'word:B']],
    ['a&&b', ['word:A', 'punct:&&', 'word:B']],
    ['a<=>b', ['word:A', 'punct:<=>', 'word:B']],
    ['a<<b', ['word:A', 'punct:<<', 'word:B']],
    ['a>>b', ['word:A', 'punct:>>', 'word:B']],
    ['a->b', ['word:A', 'punct:->', 'word:B']],
    ["a->>'$.b'", ['word:A', 'punct:->>', 'string:$.b']],
    ['a==b', ['word:A', 'punct:==', 'word:B']],
    ['a<b', ['word:A', 'punct:<', 'word:B']],
    ['a=b', ['word:A', 'punct:=', 'word:B']],
    ['a!b', ['word:A', 'punct:!', 'word:B']],
    ['*;', ['punct:*', 'punct:;']],
    ['a < = b', ['word:A', 'punct:<', 'punct:=', 'word:B']],
  ])('%j', (sql, expected) => {
    expect(lex(sql)).toEqual(expected)
  })
})

describe('tokenize: comments', () => {
  test.each<[string, string[]]>([
    ['SELECT -- c\n1', ['word:SELECT', 'number:1']],
    ['SELECT --\n1', ['word:SELECT', 'number:1']],
    ['SELECT --\t;\n1', ['word:SELECT', 'number:1']],
    ['SELECT 1 --', ['word:SELECT', 'number:1']],
    ['SELECT 1 -- ; DROP TABLE t', ['word:SELECT', 'number:1']],
    ['SELECT 1 --x', ['word:SELECT', 'number:1', 'punct:-', 'punct:-', 'word:X']],
    ['# c\nSELECT', ['word:SELECT']],
    ['SELECT 1 # c */', ['word:SELECT', 'number:1']],
    ['SELECT /* c */ 1', ['word:SELECT', 'number:1']],
    ['/* multi\nline ; */ x', ['word:X']],
    ['/**/x', ['word:X']],
    ['/*/ x */ y', ['word:Y']],
    ["/* it's */ x", ['word:X']],
    ['SELECT /*+ NO_INDEX(t) */ 1', ['word:SELECT', 'number:1']],
    ['a/b', ['word:A', 'punct:/', 'word:B']],
    ['a*/b', ['word:A', 'punct:*', 'punct:/', 'word:B']],
    ['/*! SELECT 1 */', ['word:SELECT', 'number:1']],
    ['/*!50001 CREATE VIEW v */', ['word:CREATE', 'word:VIEW', 'word:V']],
    ['/*!40101 SET @x = 1 */;', ['word:SET', 'variable:@x', 'punct:=', 'number:1', 'punct:;']],
    ['/*!50001SELECT*/', ['word:SELECT']],
    ['/*M!100101 SET x=1 */', ['word:SET', 'word:X', 'punct:=', 'number:1']],
    ['/*!*/x', ['word:X']],
    ['/*!50001 a /* inner */ b */ c', ['word:A', 'word:B', 'word:C']],
    ["/*!50001 SELECT '*/' */", ['word:SELECT', 'string:*/']],
    ['/*!50001 a */ /* b */ /*!50002 c */', ['word:A', 'word:C']],
    ['', []],
    ['  \n\t ', []],
    ['-- only', []],
  ])('%j', (sql, expected) => {
    expect(lex(sql)).toEqual(expected)
  })
})

describe('tokenize: token fields', () => {
  test('keeps raw text and source offsets', () => {
    expect(tokenize("select  `a``b`, 'it''s' -- x\n@v")).toEqual([
      { type: 'word', text: 'select', value: 'SELECT', start: 0, end: 6 },
      { type: 'identifier', text: '`a``b`', value: 'a`b', start: 8, end: 14 },
      { type: 'punct', text: ',', value: ',', start: 14, end: 15 },
      { type: 'string', text: "'it''s'", value: "it's", start: 16, end: 23 },
      { type: 'variable', text: '@v', value: '@v', start: 29, end: 31 },
    ])
  })

  test('gives offsets into the source for version-comment code', () => {
    const [t] = tokenize('/*!50001 SELECT */')
    expect(t).toEqual({ type: 'word', text: 'SELECT', value: 'SELECT', start: 9, end: 15 })
  })
})

describe('tokenize: syntax errors', () => {
  test.each<[string, string]>([
    ["'abc", 'unterminated string starting at position 0'],
    ["SELECT 'abc", 'unterminated string starting at position 7'],
    ['SELECT "abc', 'unterminated string starting at position 7'],
    ["SELECT 'abc\\'", 'unterminated string starting at position 7'],
    ["SELECT 'abc''", 'unterminated string starting at position 7'],
    ["SELECT '\\", 'unterminated string starting at position 7'],
    ["INSERT INTO t VALUES ('x)", 'unterminated string starting at position 22'],
    ["X'ab", 'unterminated string starting at position 1'],
    ["@'abc", 'unterminated string starting at position 1'],
    ['SELECT `a', 'unterminated quoted identifier starting at position 7'],
    ['SELECT `a``', 'unterminated quoted identifier starting at position 7'],
    ['[abc', 'unterminated quoted identifier starting at position 0'],
    ['/* x', 'unterminated comment starting at position 0'],
    ['SELECT 1 /* x *', 'unterminated comment starting at position 9'],
    ['/*!50001 SELECT 1', 'unterminated comment starting at position 0'],
    ['/*!50001 SELECT 1 -- */', 'unterminated comment starting at position 0'],
  ])('%j', (sql, message) => {
    let error: unknown
    try {
      tokenize(sql)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(DdbError)
    expect((error as DdbError).code).toBe('SQL_SYNTAX')
    expect((error as DdbError).message).toBe(message)
  })
})
