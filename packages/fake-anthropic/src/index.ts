export {
  chunkText,
  cutReply,
  DEMO_MODEL_NOTICE,
  demoReply,
  errorReply,
  lastToolResults,
  lastUserText,
  slowReply,
  textReply,
  thinkingReply,
  toolUseReply,
} from "./scenarios";
export { type FakeAnthropic, type FakeAnthropicOptions, startFakeAnthropic } from "./server";
export type {
  MessagesRequestBody,
  RecordedRequest,
  RequestContentBlock,
  RequestMessage,
  Responder,
  ScriptedBlock,
  ScriptedError,
  ScriptedMessage,
  ScriptedReply,
} from "./types";
