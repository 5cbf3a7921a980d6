// Stands in for @smithy/core/event-streams in the Lambda bundles (scripts/esbuild-plugins.cjs, noSdkEventStreams).
// No trailguard function calls an event-stream operation (S3 SelectObjectContent and the like), yet the S3 client
// imports the codec at construction: ~15 KB minified in every bundle with S3. A client is still built (its config
// gets a marshaller), and an event-stream operation fails loudly instead of being sent.
const unsupported = () => {
  throw new Error('event-stream operations are not bundled in trailguard functions (scripts/sdk-event-streams-stub.mjs)');
};
const marshaller = Object.freeze({ serialize: unsupported, deserialize: unsupported });

export const eventStreamSerdeProvider = () => marshaller;
export const resolveEventStreamSerdeConfig = (input) => Object.assign(input, { eventStreamMarshaller: marshaller });
export class EventStreamSerde {
  constructor() {
    unsupported();
  }
}
