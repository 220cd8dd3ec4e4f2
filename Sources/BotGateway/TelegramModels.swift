import Foundation

/// The parts of the Bot API's `Update` the gateway handles. Unknown fields are ignored and unknown update
/// kinds decode with every optional nil, so a new Telegram feature never breaks decoding.
public struct TelegramUpdate: Codable, Sendable, Equatable {
    public var updateID: Int64
    public var message: TelegramMessage?
    public var editedMessage: TelegramMessage?

    enum CodingKeys: String, CodingKey {
        case updateID = "update_id"
        case message
        case editedMessage = "edited_message"
    }
}

public struct TelegramMessage: Codable, Sendable, Equatable {
    public var messageID: Int64
    public var from: TelegramUser?
    public var chat: TelegramChat
    public var date: Int64?
    public var text: String?
    public var caption: String?
    public var photo: [TelegramPhotoSize]?
    public var document: TelegramDocument?
    public var mediaGroupID: String?

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id"
        case from, chat, date, text, caption, photo, document
        case mediaGroupID = "media_group_id"
    }
}

public struct TelegramUser: Codable, Sendable, Equatable {
    public var id: Int64
    public var isBot: Bool?
    public var firstName: String?
    public var username: String?
    public var languageCode: String?

    enum CodingKeys: String, CodingKey {
        case id
        case isBot = "is_bot"
        case firstName = "first_name"
        case username
        case languageCode = "language_code"
    }
}

public struct TelegramChat: Codable, Sendable, Equatable {
    public var id: Int64
    public var type: String?
}

public struct TelegramPhotoSize: Codable, Sendable, Equatable {
    public var fileID: String
    public var fileUniqueID: String
    public var width: Int
    public var height: Int
    public var fileSize: Int64?

    enum CodingKeys: String, CodingKey {
        case fileID = "file_id"
        case fileUniqueID = "file_unique_id"
        case width, height
        case fileSize = "file_size"
    }
}

public struct TelegramDocument: Codable, Sendable, Equatable {
    public var fileID: String
    public var fileUniqueID: String
    public var fileName: String?
    public var mimeType: String?
    public var fileSize: Int64?

    enum CodingKeys: String, CodingKey {
        case fileID = "file_id"
        case fileUniqueID = "file_unique_id"
        case fileName = "file_name"
        case mimeType = "mime_type"
        case fileSize = "file_size"
    }
}

public struct TelegramFile: Codable, Sendable, Equatable {
    public var fileID: String
    public var fileSize: Int64?
    public var filePath: String?

    public init(fileID: String, fileSize: Int64?, filePath: String?) {
        self.fileID = fileID
        self.fileSize = fileSize
        self.filePath = filePath
    }

    enum CodingKeys: String, CodingKey {
        case fileID = "file_id"
        case fileSize = "file_size"
        case filePath = "file_path"
    }
}

public struct TelegramWebhookInfo: Codable, Sendable, Equatable {
    public var url: String
    public var pendingUpdateCount: Int?
    public var lastErrorMessage: String?

    enum CodingKeys: String, CodingKey {
        case url
        case pendingUpdateCount = "pending_update_count"
        case lastErrorMessage = "last_error_message"
    }
}

/// `{"ok":…,"result":…}` or `{"ok":false,"error_code":…,"description":…,"parameters":{"retry_after":…}}`.
struct TelegramEnvelope<Result: Decodable>: Decodable {
    struct Parameters: Decodable {
        var retryAfter: Double?
        var migrateToChatID: Int64?

        enum CodingKeys: String, CodingKey {
            case retryAfter = "retry_after"
            case migrateToChatID = "migrate_to_chat_id"
        }
    }

    var ok: Bool
    var result: Result?
    var errorCode: Int?
    var description: String?
    var parameters: Parameters?

    enum CodingKeys: String, CodingKey {
        case ok, result
        case errorCode = "error_code"
        case description, parameters
    }
}

/// The file a message carries, whichever way it was sent.
public struct TelegramAttachment: Sendable, Equatable {
    public var fileID: String
    public var fileName: String
    public var mimeType: String?
    public var size: Int64?
}

extension TelegramMessage {
    /// The file to read: the largest photo size, or the document.
    public var attachment: TelegramAttachment? {
        if let document {
            return TelegramAttachment(fileID: document.fileID, fileName: document.fileName ?? "document", mimeType: document.mimeType, size: document.fileSize)
        }
        if let largest = photo?.max(by: { $0.width * $0.height < $1.width * $1.height }) {
            return TelegramAttachment(fileID: largest.fileID, fileName: "photo-\(messageID).jpg", mimeType: "image/jpeg", size: largest.fileSize)
        }
        return nil
    }
}

/// What the durable queue needs of an update before it is handled: its id, and the chat whose order it
/// keeps. Anything else in it may be malformed; that is the handler's business.
struct UpdateRouting: Decodable {
    var updateID: Int64
    var chatID: Int64?

    private enum CodingKeys: String, CodingKey {
        case updateID = "update_id"
        case message
        case editedMessage = "edited_message"
    }

    private struct Carrier: Decodable {
        struct Chat: Decodable { var id: Int64 }
        var chat: Chat
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        updateID = try container.decode(Int64.self, forKey: .updateID)
        chatID = ((try? container.decodeIfPresent(Carrier.self, forKey: .message)) ?? (try? container.decodeIfPresent(Carrier.self, forKey: .editedMessage)))?
            .chat.id
    }
}
