//! The journal: an append-only, checksummed log that makes writes durable.
//!
//! Every change of state (a site created, a config published, a consent record
//! appended, personal content erased) is first written here and `fdatasync`'d;
//! only then is it applied to sled and acknowledged. sled's own `flush` issues
//! `sync_file_range`, never `fsync`, so it cannot promise that an acknowledged
//! write survives a power cut; this file can. After a crash the journal is
//! replayed into sled from the last offset sled is known to hold, and every
//! application is idempotent, so replaying more than needed is harmless.
//!
//! Format: an 8-byte magic `KEKSJ002`, then batches — one per group commit —
//! of `[KBAT][body length: u32 LE][entry count: u32 LE][CRC-32 of body: u32 LE]`
//! and a body of entries `[payload length: u32 LE][payload: JSON]`.
//!
//! What a crash can leave: each batch is written with one `write` and
//! `fdatasync`'d before the next is written, so only the last batch can be
//! incomplete — cut short, zero-filled, or with sectors persisted out of order.
//! On open, a batch that fails its checks is such a torn tail only if no intact
//! batch follows it anywhere in the file; then it was never acknowledged and is
//! cut off (its bytes kept in `journal.torn-<offset>` for inspection). A damaged
//! batch with an intact one after it is not what a crash leaves (bit rot, a bad
//! block): the journal is refused, nothing is cut, and the server does not start.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"KEKSJ002";
/// The first format (entries without batches), from before the first release.
const MAGIC_V1: &[u8; 8] = b"KEKSJ001";
/// No single entry is larger (a config is at most a few hundred KB).
const MAX_ENTRY: u32 = 16 * 1024 * 1024;
/// Marks the start of a batch.
const BATCH: &[u8; 4] = b"KBAT";
const BATCH_HEADER: usize = 16;

/// The open journal, positioned at its end.
#[derive(Debug)]
pub struct Journal {
    file: File,
    len: u64,
    /// Test instrument for the power-cut harness: with `KEKSDOSE_TEST_SYNC_TRACE`
    /// set to a path, the journal's length after every successful `fdatasync` is
    /// appended there (one number a line). A test that kills the server can then
    /// throw away what a power cut would (everything after the last synced length)
    /// and check that nothing acknowledged was in it. Unset, nothing is written.
    trace: Option<File>,
}

/// The trace file named by `KEKSDOSE_TEST_SYNC_TRACE`, if any.
fn sync_trace() -> io::Result<Option<File>> {
    std::env::var_os("KEKSDOSE_TEST_SYNC_TRACE")
        .map(|p| OpenOptions::new().create(true).append(true).open(p))
        .transpose()
}

impl Journal {
    fn new(file: File, len: u64) -> io::Result<Journal> {
        let mut j = Journal {
            file,
            len,
            trace: sync_trace()?,
        };
        j.synced()?;
        Ok(j)
    }

    /// Notes in the trace (if any) that everything up to `len` is synced.
    fn synced(&mut self) -> io::Result<()> {
        match &mut self.trace {
            Some(t) => writeln!(t, "{}", self.len),
            None => Ok(()),
        }
    }
}

/// What [`Journal::open`] found.
#[derive(Debug)]
pub struct Opened {
    pub journal: Journal,
    /// Entries from the requested offset on, each with the offset after it.
    pub entries: Vec<(Vec<u8>, u64)>,
    /// Bytes of a torn tail that were cut off.
    pub truncated: u64,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and reads the entries after
    /// `from` (an offset a previous run reported; 0 means from the start).
    pub fn open(path: &Path, from: u64) -> io::Result<Opened> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let size = file.metadata()?.len();
        if size < MAGIC.len() as u64 {
            // New (or torn while being created): start it afresh.
            file.set_len(0)?;
            file.write_all(MAGIC)?;
            file.sync_all()?;
            sync_dir(path)?;
            return Ok(Opened {
                journal: Journal::new(file, MAGIC.len() as u64)?,
                entries: Vec::new(),
                truncated: 0,
            });
        }
        let mut magic = [0u8; 8];
        file.seek(SeekFrom::Start(0))?;
        file.read_exact(&mut magic)?;
        if &magic == MAGIC_V1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} was written by a development version of Keksdose (journal format 1); \
                     start with an empty data directory",
                    path.display()
                ),
            ));
        }
        if &magic != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a Keksdose journal", path.display()),
            ));
        }
        let start = from.max(MAGIC.len() as u64);
        if start > size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is shorter ({size} bytes) than the index expects ({start})",
                    path.display()
                ),
            ));
        }
        file.seek(SeekFrom::Start(start))?;
        let mut rest = Vec::new();
        file.read_to_end(&mut rest)?;
        let mut entries = Vec::new();
        let mut at = 0usize;
        while at < rest.len() {
            match batch(&rest[at..]) {
                Some((payloads, used)) => {
                    at += used;
                    let end = start + at as u64;
                    entries.extend(payloads.into_iter().map(|p| (p, end)));
                }
                None => {
                    if let Some(next) = (at + 1..rest.len()).find(|&i| batch(&rest[i..]).is_some())
                    {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "{}: damaged batch at offset {} with an intact batch after it \
                                 (at {}): not what a crash leaves; refusing to cut off what may \
                                 have been acknowledged",
                                path.display(),
                                start + at as u64,
                                start + next as u64
                            ),
                        ));
                    }
                    break; // torn: the last batch was never synced
                }
            }
        }
        let pos = start + at as u64;
        let truncated = size - pos;
        if truncated > 0 {
            // Keep what is cut off, for whoever wants to look at it.
            let torn = path.with_extension(format!("torn-{pos}"));
            std::fs::write(&torn, &rest[at..])?;
            File::open(&torn)?.sync_all()?;
            file.set_len(pos)?;
            file.sync_all()?;
            sync_dir(path)?;
        }
        file.seek(SeekFrom::Start(pos))?;
        Ok(Opened {
            journal: Journal::new(file, pos)?,
            entries,
            truncated,
        })
    }

    /// Appends the entries and `fdatasync`s them: when this returns `Ok`, they
    /// survive a crash or a power cut. On error nothing of them remains (the file
    /// is cut back), so a failed batch never leaves half an entry behind.
    pub fn append(&mut self, payloads: &[Vec<u8>]) -> io::Result<u64> {
        let too_large = || io::Error::new(io::ErrorKind::InvalidInput, "journal entry too large");
        let mut body = Vec::with_capacity(payloads.iter().map(|p| p.len() + 4).sum());
        for p in payloads {
            let len = u32::try_from(p.len())
                .ok()
                .filter(|l| *l <= MAX_ENTRY)
                .ok_or_else(too_large)?;
            body.extend_from_slice(&len.to_le_bytes());
            body.extend_from_slice(p);
        }
        let body_len = u32::try_from(body.len()).map_err(|_| too_large())?;
        let count = u32::try_from(payloads.len()).map_err(|_| too_large())?;
        let mut buf = Vec::with_capacity(BATCH_HEADER + body.len());
        buf.extend_from_slice(BATCH);
        buf.extend_from_slice(&body_len.to_le_bytes());
        buf.extend_from_slice(&count.to_le_bytes());
        buf.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        buf.extend_from_slice(&body);
        let before = self.len;
        let result = self
            .file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data());
        match result {
            Ok(()) => {
                self.len += buf.len() as u64;
                // The entries are durable: a failing trace must not turn that into
                // an error (it is a test instrument).
                let _ = self.synced();
                Ok(self.len)
            }
            Err(e) => {
                // Cut back whatever part was written; best effort, the entries were
                // never acknowledged either way.
                let _ = self.file.set_len(before);
                let _ = self.file.seek(SeekFrom::Start(before));
                let _ = self.file.sync_data();
                Err(e)
            }
        }
    }

    /// The offset after the last entry.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the journal holds no entry (only its header).
    pub fn is_empty(&self) -> bool {
        self.len <= START
    }

    /// Replaces the journal at `path` with an empty one, atomically (write, sync,
    /// rename, sync the folder). Only for when everything in it is durably held
    /// elsewhere: this is how erased personal content leaves the journal.
    pub fn reset(&mut self, path: &Path) -> io::Result<()> {
        let fresh = path.with_extension("new");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&fresh)?;
        file.write_all(MAGIC)?;
        file.sync_all()?;
        std::fs::rename(&fresh, path)?;
        sync_dir(path)?;
        self.file = file;
        self.len = MAGIC.len() as u64;
        let _ = self.synced();
        Ok(())
    }
}

/// The offset of the first entry of an empty journal.
pub const START: u64 = MAGIC.len() as u64;

/// The intact batch at the start of `bytes`: its entries and its length in
/// bytes; `None` if there is none (cut short, zeros, garbage, a wrong checksum).
fn batch(bytes: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    let header = bytes.get(..BATCH_HEADER)?;
    if &header[..4] != BATCH {
        return None;
    }
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (len, count, crc) = (word(4) as usize, word(8) as usize, word(12));
    let body = bytes.get(BATCH_HEADER..BATCH_HEADER.checked_add(len)?)?;
    if count == 0 || crc32fast::hash(body) != crc {
        return None;
    }
    let mut entries = Vec::with_capacity(count.min(len / 4));
    let mut at = 0;
    while at < body.len() {
        let l = u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
        entries.push(body.get(at + 4..at + 4 + l)?.to_vec());
        at += 4 + l;
    }
    (entries.len() == count).then_some((entries, BATCH_HEADER + len))
}

/// Makes a newly created file's directory entry durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal with the given batches appended; the offsets after each batch.
    fn journal(batches: &[&[&[u8]]]) -> (tempfile::TempDir, std::path::PathBuf, Vec<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut j = Journal::open(&path, 0).unwrap().journal;
        let ends = batches
            .iter()
            .map(|b| {
                j.append(&b.iter().map(|p| p.to_vec()).collect::<Vec<_>>())
                    .unwrap()
            })
            .collect();
        (dir, path, ends)
    }

    fn payloads(opened: &Opened) -> Vec<&[u8]> {
        opened.entries.iter().map(|(p, _)| p.as_slice()).collect()
    }

    #[test]
    fn entries_survive_reopening_and_a_torn_tail_is_cut_off() {
        let (_dir, path, ends) = journal(&[&[b"one"], &[b"two", b"three"]]);
        let opened = Journal::open(&path, 0).unwrap();
        assert_eq!(payloads(&opened), [b"one".as_slice(), b"two", b"three"]);
        assert_eq!(opened.entries[2].1, ends[1]);
        assert_eq!(opened.truncated, 0);
        drop(opened);

        // Reading from an offset gives only what follows it.
        let from = Journal::open(&path, ends[0]).unwrap();
        assert_eq!(from.entries.len(), 2);
        drop(from);

        // A crash in the middle of a write: half a batch at the end, kept aside.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"KBAT\x09\0\0\0\x01").unwrap();
        drop(f);
        let opened = Journal::open(&path, 0).unwrap();
        assert_eq!(opened.entries.len(), 3);
        assert_eq!(opened.truncated, 9);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), ends[1]);
        let torn = path.with_extension(format!("torn-{}", ends[1]));
        assert_eq!(std::fs::read(torn).unwrap(), b"KBAT\x09\0\0\0\x01");
    }

    /// What power cuts leave after the last synced batch: zeros (a file extended
    /// whose blocks were never written), part of the batch, or the whole batch
    /// with a sector lost in its middle (sectors persisted out of order). Each is
    /// cut off; what was synced stays.
    #[test]
    fn a_power_cut_tail_is_cut_off() {
        let (_d, reference, _) =
            journal(&[&[b"synced"], &[b"unsynced-1", b"unsynced-2", b"unsynced-3"]]);
        let bytes = std::fs::read(&reference).unwrap();
        let synced = 8 + 16 + 4 + 6;
        let last = bytes[synced..].to_vec();
        let mut hole = last.clone();
        for b in &mut hole[20..30] {
            *b = 0;
        }
        for tail in [vec![0u8; 4096], last[..last.len() / 2].to_vec(), hole] {
            let (_dir, path, ends) = journal(&[&[b"synced"]]);
            assert_eq!(ends[0], synced as u64);
            let mut f = OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(&tail).unwrap();
            drop(f);
            let opened = Journal::open(&path, 0).unwrap();
            assert_eq!(payloads(&opened), [b"synced".as_slice()]);
            assert_eq!(opened.truncated, tail.len() as u64);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), ends[0]);
        }
    }

    /// Damage with an intact batch after it is not a crash: a flipped bit, a
    /// zeroed block, a corrupted length field in an earlier batch. The journal is
    /// refused and nothing is cut off.
    #[test]
    fn damage_before_an_intact_batch_is_refused_not_cut_off() {
        type Damage = fn(&mut Vec<u8>);
        let damages: [(&str, Damage); 3] = [
            ("a flipped bit", |b| b[8 + 16 + 4] ^= 1),
            ("a zeroed block", |b| b[8..8 + 16].fill(0)),
            ("a wrong length", |b| b[8 + 4] = 3),
        ];
        for (what, damage) in damages {
            let (_dir, path, _) = journal(&[&[b"first"], &[b"second"], &[b"third"]]);
            let mut bytes = std::fs::read(&path).unwrap();
            damage(&mut bytes);
            std::fs::write(&path, &bytes).unwrap();
            let err = Journal::open(&path, 0).unwrap_err();
            assert!(
                err.to_string()
                    .contains("damaged batch at offset 8 with an intact batch after it"),
                "{what}: {err}"
            );
            assert_eq!(
                std::fs::read(&path).unwrap(),
                bytes,
                "{what}: nothing was cut off"
            );
        }
    }

    #[test]
    fn refuses_a_file_that_is_not_a_journal_or_of_the_first_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        std::fs::write(&path, b"something else entirely").unwrap();
        assert!(Journal::open(&path, 0).is_err());
        std::fs::write(&path, b"KEKSJ001").unwrap();
        let err = Journal::open(&path, 0).unwrap_err();
        assert!(err.to_string().contains("journal format 1"), "{err}");
    }
}
