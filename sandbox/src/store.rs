//! SQLite persistence of log entries.

use crate::error::Error;
use crate::merkle::Hash;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub index: u64,
    pub leaf_hash: Hash,
    pub body: Vec<u8>,
    pub integrated_time: i64,
    pub set: Vec<u8>,
    /// Lower-case hex of the artifact digest.
    pub data_hash: String,
    /// DER of the certificate (or public key) in the entry.
    pub key_der: Vec<u8>,
    /// rfc822Name SAN of the certificate, if any (lower-case).
    pub email: Option<String>,
}

pub(crate) struct Store {
    conn: Connection,
}

const COLS: &str = "idx, leaf_hash, body, integrated_time, set_sig, data_hash, key_der, email";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let leaf: Vec<u8> = r.get(1)?;
    let mut leaf_hash = [0u8; 32];
    if leaf.len() == 32 {
        leaf_hash.copy_from_slice(&leaf);
    }
    Ok(Entry {
        index: r.get::<_, i64>(0)? as u64,
        leaf_hash,
        body: r.get(2)?,
        integrated_time: r.get(3)?,
        set: r.get(4)?,
        data_hash: r.get(5)?,
        key_der: r.get(6)?,
        email: r.get(7)?,
    })
}

/// Open a log database for this process alone, durable on commit.
fn open_locked(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open(path)?;
    // One server per directory: hold an exclusive lock for the connection's
    // lifetime (released by the OS even on kill -9).
    conn.busy_timeout(std::time::Duration::ZERO)?;
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    if conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;").is_err() {
        return Err(Error::State(format!(
            "{} is in use: another gitsign-sandbox is already serving this directory",
            path.display()
        )));
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // WAL + FULL: the WAL is fsynced at every commit, before the answer goes out, so an
    // acknowledged entry survives a killed process and a power cut alike, as in a real log (the
    // benchmarks measure signing against a log that commits durably, not a faster one).
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Leaf hashes from `SELECT idx, leaf_hash … ORDER BY idx`, checked to be dense from 0.
fn dense_leaves(conn: &Connection, sql: &str) -> Result<Vec<Hash>, Error> {
    let mut st = conn.prepare(sql)?;
    let mut out = Vec::new();
    let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    for r in rows {
        let (idx, h) = r?;
        if idx as usize != out.len() || h.len() != 32 {
            return Err(Error::State(format!("log database is inconsistent at index {idx}")));
        }
        let mut a = [0u8; 32];
        a.copy_from_slice(&h);
        out.push(a);
    }
    Ok(out)
}

impl Store {
    pub(crate) fn open(path: &Path) -> Result<Store, Error> {
        let conn = open_locked(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS entries (
                idx INTEGER PRIMARY KEY,
                leaf_hash BLOB NOT NULL UNIQUE,
                body BLOB NOT NULL,
                integrated_time INTEGER NOT NULL,
                set_sig BLOB NOT NULL,
                data_hash TEXT NOT NULL,
                key_der BLOB NOT NULL,
                email TEXT
            );
            CREATE INDEX IF NOT EXISTS entries_data_hash ON entries(data_hash);
            CREATE INDEX IF NOT EXISTS entries_key_der ON entries(key_der);
            CREATE INDEX IF NOT EXISTS entries_email ON entries(email);",
        )?;
        Ok(Store { conn })
    }

    /// All leaf hashes in index order (to rebuild the tree at start).
    pub(crate) fn leaf_hashes(&self) -> Result<Vec<Hash>, Error> {
        dense_leaves(&self.conn, "SELECT idx, leaf_hash FROM entries ORDER BY idx")
    }

    /// Insert and commit (autocommit: the statement is durable when this returns).
    pub(crate) fn insert(&self, e: &Entry) -> Result<(), Error> {
        self.conn.execute(
            &format!("INSERT INTO entries ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                e.index as i64,
                e.leaf_hash.to_vec(),
                e.body,
                e.integrated_time,
                e.set,
                e.data_hash,
                e.key_der,
                e.email
            ],
        )?;
        Ok(())
    }

    pub(crate) fn by_leaf(&self, leaf: &Hash) -> Result<Option<Entry>, Error> {
        Ok(self
            .conn
            .query_row(&format!("SELECT {COLS} FROM entries WHERE leaf_hash = ?1"), [leaf.to_vec()], row)
            .optional()?)
    }

    pub(crate) fn by_index(&self, idx: u64) -> Result<Option<Entry>, Error> {
        Ok(self.conn.query_row(&format!("SELECT {COLS} FROM entries WHERE idx = ?1"), [idx as i64], row).optional()?)
    }

    pub(crate) fn search_hash(&self, hex: &str) -> Result<Vec<Hash>, Error> {
        self.search("data_hash", rusqlite::types::Value::Text(hex.to_string()))
    }

    pub(crate) fn search_key(&self, der: &[u8]) -> Result<Vec<Hash>, Error> {
        self.search("key_der", rusqlite::types::Value::Blob(der.to_vec()))
    }

    pub(crate) fn search_email(&self, email: &str) -> Result<Vec<Hash>, Error> {
        self.search("email", rusqlite::types::Value::Text(email.to_ascii_lowercase()))
    }

    fn search(&self, col: &str, v: rusqlite::types::Value) -> Result<Vec<Hash>, Error> {
        let mut st = self.conn.prepare(&format!("SELECT leaf_hash FROM entries WHERE {col} = ?1 ORDER BY idx"))?;
        let rows = st.query_map([v], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for r in rows {
            let h = r?;
            if let Ok(a) = <[u8; 32]>::try_from(h.as_slice()) {
                out.push(a);
            }
        }
        Ok(out)
    }
}

/// The Rekor v2 log's entries (`rekor-v2.sqlite`): index, RFC 6962 leaf hash and the
/// canonicalized body as logged (the bytes the leaf hash and the entry bundles are made of).
pub(crate) struct V2Store {
    conn: Connection,
}

impl V2Store {
    pub(crate) fn open(path: &Path) -> Result<V2Store, Error> {
        let conn = open_locked(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS entries_v2 (
                idx INTEGER PRIMARY KEY,
                leaf_hash BLOB NOT NULL UNIQUE,
                body BLOB NOT NULL
            );",
        )?;
        Ok(V2Store { conn })
    }

    /// All leaf hashes in index order (to rebuild the tree at start).
    pub(crate) fn leaf_hashes(&self) -> Result<Vec<Hash>, Error> {
        dense_leaves(&self.conn, "SELECT idx, leaf_hash FROM entries_v2 ORDER BY idx")
    }

    /// Insert and commit (autocommit: durable when this returns).
    pub(crate) fn insert(&self, index: u64, leaf: &Hash, body: &[u8]) -> Result<(), Error> {
        self.conn.execute(
            "INSERT INTO entries_v2 (idx, leaf_hash, body) VALUES (?1, ?2, ?3)",
            params![index as i64, leaf.to_vec(), body],
        )?;
        Ok(())
    }

    /// Index and body of the entry with this leaf hash.
    pub(crate) fn by_leaf(&self, leaf: &Hash) -> Result<Option<(u64, Vec<u8>)>, Error> {
        Ok(self
            .conn
            .query_row("SELECT idx, body FROM entries_v2 WHERE leaf_hash = ?1", [leaf.to_vec()], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
            })
            .optional()?)
    }

    /// Bodies of entries `start..end`, in index order.
    pub(crate) fn bodies(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, Error> {
        let mut st = self.conn.prepare("SELECT body FROM entries_v2 WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")?;
        let rows = st.query_map([start as i64, end as i64], |r| r.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}
