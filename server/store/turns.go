package store

import "time"

// An upload hashes and writes its chunks in turns, so that uploads never
// take every processor from reads (see Store.turn).

// readStarted marks a read in progress until readDone: uploads then leave
// a processor to reads. Every read entry point of the store marks itself,
// and the quiet time after it covers what the caller does with the answer
// (rendering a page, sending a file).
func (s *Store) readStarted() {
	s.reads.Add(1)
	s.lastRead.Store(time.Now().UnixNano())
}

// readQuiet is how long after a read starts uploads still leave reads a
// processor: a busy client's next request follows its last within it, and
// the time a request waits before its handler starts is not counted.
const readQuiet = 100 * time.Millisecond

// readDone ends what readStarted began.
func (s *Store) readDone() { s.reads.Add(-1) }

// takeTurn waits for a turn to process a chunk of an upload and returns
// the channel to give it back to.
func (s *Store) takeTurn() chan struct{} {
	if s.spare != nil && s.reads.Load() == 0 && time.Now().UnixNano()-s.lastRead.Load() > int64(readQuiet) {
		select {
		case s.turn <- struct{}{}:
			return s.turn
		case s.spare <- struct{}{}:
			return s.spare
		}
	}
	s.turn <- struct{}{}
	return s.turn
}
