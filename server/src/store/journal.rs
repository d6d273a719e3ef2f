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
//! Format: an 8-byte magic `KEKSJ001`, then entries of
//! `[payload length: u32 LE][CRC-32 of payload: u32 LE][payload: JSON]`.
//! A torn tail (a write cut short by a crash, never acknowledged) is detected by
//! its length or checksum and cut off on open.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"KEKSJ001";
/// No single entry is larger (a config is at most a few hundred KB).
const MAX_ENTRY: u32 = 16 * 1024 * 1024;

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
        let mut reader = BufReader::new(&file);
        let mut entries = Vec::new();
        let mut pos = start;
        loop {
            let mut header = [0u8; 8];
            match read_full(&mut reader, &mut header)? {
                0 => break,
                8 => {}
                _ => break, // torn header
            }
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            if len == 0 || len > MAX_ENTRY {
                // No entry is empty or that large: the rest is what a power cut
                // leaves after the last synced write (zeros, garbage). Nothing
                // tells where a next entry would start, so none can be checked.
                break;
            }
            let mut payload = vec![0u8; len as usize];
            if read_full(&mut reader, &mut payload)? != payload.len() {
                break; // torn: the file ends inside this entry
            }
            if crc32fast::hash(&payload) != crc {
                if next_entry_is_intact(&mut reader)? {
                    // Damage with an intact entry after it is not a torn write
                    // (only the last batch can be torn, and it is synced before
                    // the next is written): cutting it off could lose
                    // acknowledged records.
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{}: damaged entry at offset {pos} with intact entries after it; \
                             the journal needs a look before the server may use it",
                            path.display()
                        ),
                    ));
                }
                break; // torn: the last batch was only partly written
            }
            pos += 8 + u64::from(len);
            entries.push((payload, pos));
        }
        drop(reader);
        let truncated = size - pos;
        if truncated > 0 {
            file.set_len(pos)?;
            file.sync_all()?;
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
        let mut buf = Vec::with_capacity(payloads.iter().map(|p| p.len() + 8).sum());
        for p in payloads {
            let len = u32::try_from(p.len())
                .ok()
                .filter(|l| *l <= MAX_ENTRY)
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "journal entry too large")
                })?;
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&crc32fast::hash(p).to_le_bytes());
            buf.extend_from_slice(p);
        }
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

/// Whether a whole, checksum-valid entry follows at the reader's position.
fn next_entry_is_intact(r: &mut impl Read) -> io::Result<bool> {
    let mut header = [0u8; 8];
    if read_full(r, &mut header)? != 8 {
        return Ok(false);
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 || len > MAX_ENTRY {
        return Ok(false);
    }
    let mut payload = vec![0u8; len as usize];
    Ok(read_full(r, &mut payload)? == payload.len() && crc32fast::hash(&payload) == crc)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
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

    #[test]
    fn entries_survive_reopening_and_a_torn_tail_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut j = Journal::open(&path, 0).unwrap().journal;
        let after_first = j.append(&[b"one".to_vec()]).unwrap();
        let end = j.append(&[b"two".to_vec(), b"three".to_vec()]).unwrap();
        drop(j);

        let opened = Journal::open(&path, 0).unwrap();
        let payloads: Vec<&[u8]> = opened.entries.iter().map(|(p, _)| p.as_slice()).collect();
        assert_eq!(payloads, [b"one".as_slice(), b"two", b"three"]);
        assert_eq!(opened.entries[2].1, end);
        assert_eq!(opened.truncated, 0);
        drop(opened);

        // Reading from an offset gives only what follows it.
        let from = Journal::open(&path, after_first).unwrap();
        assert_eq!(from.entries.len(), 2);
        drop(from);

        // A crash in the middle of a write: half an entry at the end.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        let opened = Journal::open(&path, 0).unwrap();
        assert_eq!(opened.entries.len(), 3);
        assert_eq!(opened.truncated, 6);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), end);
    }

    #[test]
    fn a_flipped_bit_ends_the_readable_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut j = Journal::open(&path, 0).unwrap().journal;
        j.append(&[b"good".to_vec(), b"flipped".to_vec()]).unwrap();
        drop(j);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let opened = Journal::open(&path, 0).unwrap();
        assert_eq!(opened.entries.len(), 1);
    }

    #[test]
    fn damage_before_the_tail_is_refused_not_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut j = Journal::open(&path, 0).unwrap().journal;
        j.append(&[b"first".to_vec(), b"second".to_vec()]).unwrap();
        drop(j);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8 + 8] ^= 1; // inside "first"
        std::fs::write(&path, &bytes).unwrap();
        let err = Journal::open(&path, 0).unwrap_err();
        assert!(
            err.to_string().contains("damaged entry at offset 8"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing was cut off");
    }

    /// What power cuts leave after the last synced batch: zeros (a file extended
    /// whose blocks were never written), or part of the batch with its last
    /// sector garbage. Both are cut off; what was synced stays.
    #[test]
    fn a_power_cut_tail_of_zeros_or_garbage_is_cut_off() {
        for tail in [vec![0u8; 4096], {
            let mut t = Vec::new();
            for p in [b"unsynced-1".as_slice(), b"unsynced-2"] {
                t.extend_from_slice(&(p.len() as u32).to_le_bytes());
                t.extend_from_slice(&crc32fast::hash(p).to_le_bytes());
                t.extend_from_slice(p);
            }
            // The first entry's payload garbled, the second's header too.
            for b in &mut t[10..24] {
                *b = 0xA5;
            }
            t
        }] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal");
            let mut j = Journal::open(&path, 0).unwrap().journal;
            let synced = j.append(&[b"synced".to_vec()]).unwrap();
            drop(j);
            let mut f = OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(&tail).unwrap();
            drop(f);
            let opened = Journal::open(&path, 0).unwrap();
            assert_eq!(opened.entries.len(), 1);
            assert_eq!(opened.entries[0].0, b"synced");
            assert_eq!(opened.truncated, tail.len() as u64);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), synced);
        }
    }

    #[test]
    fn refuses_a_file_that_is_not_a_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        std::fs::write(&path, b"something else entirely").unwrap();
        assert!(Journal::open(&path, 0).is_err());
    }
}
